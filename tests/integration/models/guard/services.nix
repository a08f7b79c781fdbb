# Test services of test_guard.py: db <- api <- web (dependsOn), daemons that write a pid file,
# each with a healthCheck (tags and healthCheck are free attributes: Disnix ignores them).
# extra param `variant`: "unhealthy" rebuilds web with a check that never passes;
# `stamp` goes into every build, `apiStamp` into api's only.
{ system, distribution, invDistribution, variant ? "good", stamp ? "", apiStamp ? "", ... }:

let
  daemon = { name, config }: derivation {
    inherit name system config stamp;
    builder = "/bin/sh";
    args = [ "-c" ''
      /bin/mkdir -p $out/bin
      {
        echo '#!/bin/sh'
        echo "# $config"
        echo '/usr/bin/setsid /bin/sleep 1000000 </dev/null >/dev/null 2>&1 &'
        echo 'echo $! > "''${runtimeDir:-/var/run}/${name}.pid"'
      } > $out/bin/${name}
      /bin/chmod +x $out/bin/${name}
    '' ];
  };
in
rec {
  db = {
    name = "db";
    type = "process";
    tags = [ "backend" ];
    pkg = daemon { name = "db"; config = "db"; };
    # the target's own sshd
    healthCheck = { tcpPort = 22; timeout = 5; };
  };

  api = {
    name = "api";
    type = "process";
    tags = [ "backend" ];
    dependsOn = { inherit db; };
    pkg = { db }: daemon { name = "api"; config = "db at ${db.target.properties.hostname} ${apiStamp}"; };
    # argv, no shell; runtimeDir reaches it from the container's properties
    healthCheck = { command = [ "/usr/bin/test" "-s" "/run/api.pid" ]; };
  };

  web = {
    name = "web";
    type = "process";
    dependsOn = { inherit api; };
    pkg = { api }: daemon { name = "web"; config = "api at ${api.target.properties.hostname} ${variant}"; };
    healthCheck =
      if variant == "unhealthy" then { name = "web answers"; command = "test -e /run/web-ready"; timeout = 2; }
      else { command = "kill -0 \"$(cat \"$runtimeDir/web.pid\")\""; };
  };
}
