# The services of the example, as in the blog's services-without-proxy.nix.
# serverPort can be changed with -e '{"disnix_extra_params": {"serverPort": 6000}}' (Disnix's --extra-params).
{ system, distribution, invDistribution, pkgs, serverPort ? 5000 }:

let
  customPkgs = import ./pkgs { inherit system; };
in
rec {
  hello_world_server = rec {
    name = "hello_world_server";
    port = serverPort;
    pkg = customPkgs.hello_world_server { inherit port; };
    type = "process";
  };

  hello_world_client = {
    name = "hello_world_client";
    pkg = customPkgs.hello_world_client;
    dependsOn = {
      inherit hello_world_server;
    };
    type = "package";
  };
}
