# The fault suite's services: a chain s1 <- s2 <- s3 <- s4 <- s5 (each depends on the one
# before and bakes that one's host into its package). A running service is a long-running
# process `/bin/sh .../libexec/fault-daemon-<s>` (pid file /var/run/<s>.pid) plus its state
# file /var/lib/fault-svc/<s>.state naming its configuration (removed when it stops); each
# start and stop is appended to /var/lib/fault-svc/ops.log ("<time_ns> <op> <s> <stamp>").
# s1, s3 and s5 are of type wrapper, s2 and s4 of type process (two wrappers on one target
# would collide in its profile: both are bin/wrapper). The hooks obey marker files on the
# target, in /tmp/fault:
#   <s>.activate-fail                      the activation fails (every service)
#   <s>.activate-wait                      the activation waits until the file is removed,
#                                          writing <s>.activate-waiting meanwhile (every service)
#   <s>.deactivate-fail, <s>.deactivate-wait   the same for deactivation (wrappers only)
#   <s>.lock-veto                          the service refuses to be locked (wrappers only)
# Extra parameters: `stamp` goes into every build and state file (fresh builds per test
# case); `failBuild = "<s>"` makes that service's build fail.
{ system, distribution, invDistribution, stamp ? "", failBuild ? "", ... }:

let
  # the part of a service's hooks that both types share: markers, and starting the daemon
  common = name: conf: ''
    svc=${name}
    f=/tmp/fault/$svc
    pidf=''${runtimeDir:-/var/run}/$svc.pid
    hold() {
      if [ -e "$f.$1-wait" ]; then
        : > "$f.$1-waiting"
        n=0
        while [ -e "$f.$1-wait" ] && [ "$n" -lt 2400 ]; do /bin/sleep 0.1; n=$((n + 1)); done
        /bin/rm -f "$f.$1-waiting"
      fi
    }
    alive() {
      p=$(/bin/cat "$pidf" 2>/dev/null) || return 1
      [ -n "$p" ] && /usr/bin/tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | /bin/grep -q "fault-daemon-$svc "
    }
    start() {
      hold activate
      if [ -e "$f.activate-fail" ]; then echo "$svc: activation fails (fault marker $f.activate-fail)" >&2; exit 1; fi
      alive && exit 0
      /bin/mkdir -p /var/lib/fault-svc
      echo "${conf}" > /var/lib/fault-svc/$svc.state
      echo "$(/bin/date +%s%N) activate $svc ${stamp}" >> /var/lib/fault-svc/ops.log
      /usr/bin/setsid /bin/sh @out@/libexec/fault-daemon-$svc </dev/null >/dev/null 2>&1 &
      echo $! > "$pidf"
    }
  '';

  # the long-running process: removes its state file when stopped
  daemonText = name: ''
    #!/bin/sh
    stopped() {
      /bin/rm -f /var/lib/fault-svc/${name}.state
      echo "$(/bin/date +%s%N) deactivate ${name} ${stamp}" >> /var/lib/fault-svc/ops.log
      exit 0
    }
    trap stopped TERM
    while :; do /bin/sleep 1 & wait $!; done
  '';

  # type wrapper: every hook (activate, deactivate, lock) obeys the markers
  wrapperText = name: conf: ''
    #!/bin/sh
    # disnix fault-suite service ${name} (wrapper): ${conf}
    ${common name conf}
    case "$1" in
      activate) start ;;
      deactivate)
        hold deactivate
        if [ -e "$f.deactivate-fail" ]; then echo "$svc: deactivation fails (fault marker $f.deactivate-fail)" >&2; exit 1; fi
        if alive; then
          kill "$p"
          n=0
          while alive && [ "$n" -lt 100 ]; do /bin/sleep 0.05; n=$((n + 1)); done
        fi
        /bin/rm -f "$pidf"
        ;;
      lock)
        if [ -e "$f.lock-veto" ]; then echo "$svc: refuses the lock (fault marker $f.lock-veto)" >&2; exit 1; fi
        ;;
    esac
    exit 0
  '';

  # type process: the start command obeys the activation markers; deactivation is the
  # activation type's own SIGTERM
  processText = name: conf: ''
    #!/bin/sh
    # disnix fault-suite service ${name} (process): ${conf}
    ${common name conf}
    start
  '';

  service = { name, type, conf }: derivation {
    name = "fault-${name}";
    inherit system stamp;
    svc = name;
    fail = if failBuild == name then "1" else "0";
    hook = if type == "wrapper" then wrapperText name conf else processText name conf;
    hookName = if type == "wrapper" then "wrapper" else name;
    daemon = daemonText name;
    builder = "/bin/sh";
    args = [ "-c" ''
      if [ "$fail" = 1 ]; then echo "$svc: this build fails (extra parameter failBuild)" >&2; exit 1; fi
      /bin/mkdir -p $out/bin $out/libexec
      printf '%s\n' "$daemon" > $out/libexec/fault-daemon-$svc
      printf '%s\n' "$hook" | /bin/sed "s|@out@|$out|g" > $out/bin/$hookName
      /bin/chmod +x $out/bin/$hookName
    '' ];
  };
in
rec {
  s1 = {
    name = "s1";
    type = "wrapper";
    pkg = service { name = "s1"; type = "wrapper"; conf = "s1 stamp ${stamp}"; };
  };

  s2 = {
    name = "s2";
    type = "process";
    dependsOn = { inherit s1; };
    pkg = { s1 }: service { name = "s2"; type = "process"; conf = "s2 needs s1 at ${s1.target.properties.hostname} stamp ${stamp}"; };
  };

  s3 = {
    name = "s3";
    type = "wrapper";
    dependsOn = { inherit s2; };
    pkg = { s2 }: service { name = "s3"; type = "wrapper"; conf = "s3 needs s2 at ${s2.target.properties.hostname} stamp ${stamp}"; };
  };

  s4 = {
    name = "s4";
    type = "process";
    dependsOn = { inherit s3; };
    pkg = { s3 }: service { name = "s4"; type = "process"; conf = "s4 needs s3 at ${s3.target.properties.hostname} stamp ${stamp}"; };
  };

  s5 = {
    name = "s5";
    type = "wrapper";
    dependsOn = { inherit s4; };
    pkg = { s4 }: service { name = "s5"; type = "wrapper"; conf = "s5 needs s4 at ${s4.target.properties.hostname} stamp ${stamp}"; };
  };
}
