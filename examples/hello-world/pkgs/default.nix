# The example's packages, built without nixpkgs: the builder is the host's /bin/sh and the
# programs run with the host's python3 (fine for the lab; real packages would use nixpkgs).
{ system }:

let
  script = { name, program, args }: derivation {
    inherit name system program;
    builder = "/bin/sh";
    # a derivation's environment has no PATH: absolute paths only
    args = [ "-c" ''
      set -e
      /bin/mkdir -p $out/bin $out/libexec
      /bin/cp $program $out/libexec/${name}.py
      printf '#!/bin/sh\nexec /usr/bin/python3 %s %s "$@"\n' "$out/libexec/${name}.py" '${args}' > $out/bin/${name}
      /bin/chmod +x $out/bin/${name}
    '' ];
  };
in
{
  # {port}: the server listens on the port its service sets
  hello_world_server = { port }: script {
    name = "hello-world-server";
    program = ./hello-world-server.py;
    args = toString port;
  };

  # inter-dependency {hello_world_server}: the server's host and port are baked in at build
  # time, so moving the server rebuilds and redeploys the client
  hello_world_client = { hello_world_server }: script {
    name = "hello-world-client";
    program = ./hello-world-client.py;
    args = "${hello_world_server.target.properties.hostname} ${toString hello_world_server.port}";
  };
}
