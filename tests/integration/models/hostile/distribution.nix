# every service on the target `data`
{ infrastructure }:
builtins.mapAttrs (_name: _service: [ infrastructure.data ]) (import ./services.nix { system = "any"; })
