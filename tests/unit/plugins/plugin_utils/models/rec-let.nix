# A generated-looking model: shared settings in a let, targets that refer to each other.
let
  domain = "lab.example.org";
  linux = { system = "x86_64-linux"; numOfCores = 2; };
  processContainer = { runtimeDir = "/run"; };
in
rec {
  test1 = {
    properties.hostname = "test1.${domain}";
    containers.process = processContainer;
    inherit (linux) system numOfCores;
  };
  test2 = {
    properties = {
      hostname = "test2.${domain}";
      # test1's address, by reference
      peer = test1.properties.hostname;
      motd = ''
        Welcome to test2.
          Managed by Disnix.
      '';
    };
    containers = test1.containers;
    inherit (linux) system;
  };
}
