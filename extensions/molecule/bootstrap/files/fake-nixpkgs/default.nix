# A stand-in for Nixpkgs with the two attributes the bootstrap roles take from it
# (molecule scenario "bootstrap"; the lab hosts have no network, so no real channel):
#   dysnomia, with override { jobTemplate = ...; } as in the blog
#   disnix, with bin/disnix-service and the D-Bus policy (but no init.d script)
# Everything builds with /bin/sh from the host (sandbox off in the scenario's nix.conf).
{ ... }:

let
  system = builtins.currentSystem;

  dysnomiaWith = jobTemplate: derivation {
    name = "dysnomia-0.0fake";
    inherit system jobTemplate;
    builder = "/bin/sh";
    args = [ "-c" ''
      /bin/mkdir -p $out/bin
      printf '#!/bin/sh\necho "dysnomia (fake nixpkgs) job-template %s"\n' "$jobTemplate" > $out/bin/dysnomia
      /bin/chmod +x $out/bin/dysnomia
    '' ];
  };

  service = builtins.toFile "disnix-service" ''
    #!/bin/sh
    # stand-in for disnix-service: records who runs it and how, then stays up
    {
      echo "user=$(id -un)"
      echo "path=$PATH"
      echo "dysnomia=$(command -v dysnomia)"
    } > /tmp/disnix-service.log
    exec sleep 2147483647
  '';

  policy = builtins.toFile "disnix.conf" ''
    <?xml version="1.0" encoding="UTF-8"?>
    <busconfig>
      <policy user="root">
        <allow own="org.nixos.disnix.Disnix"/>
      </policy>
    </busconfig>
  '';
in
{
  dysnomia = dysnomiaWith "systemd" // { override = args: dysnomiaWith args.jobTemplate; };

  disnix = derivation {
    name = "disnix-0.0fake";
    inherit system service policy;
    builder = "/bin/sh";
    args = [ "-c" ''
      /bin/mkdir -p $out/bin $out/etc/dbus-1/system.d
      /bin/cp $service $out/bin/disnix-service
      /bin/chmod +x $out/bin/disnix-service
      /bin/cp $policy $out/etc/dbus-1/system.d/disnix.conf
    '' ];
  };
}
