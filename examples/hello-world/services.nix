# The services of the example, as in the blog's services-without-proxy.nix.
{ system, distribution, invDistribution, pkgs }:

let
  customPkgs = import ./pkgs { inherit system; };
in
rec {
  hello_world_server = rec {
    name = "hello_world_server";
    port = 5000;
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
