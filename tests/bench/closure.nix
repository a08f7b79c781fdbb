# A closure to time copies with: `paths` leaves of `size` bytes each (half random, half
# base64 of random: compressible about as much as real binaries) and one root that
# references them all. Built on the controller without nixpkgs.
{ paths ? 500, size ? 400000, seed ? "1" }:
let
  leaf = i: derivation {
    name = "bench-leaf-${toString i}";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" "head -c ${toString (size / 2)} /dev/urandom > $out; head -c ${toString (size * 3 / 8)} /dev/urandom | base64 -w 76 >> $out" ];
    inherit seed;
    PATH = "/usr/bin:/bin";
  };
  leaves = builtins.genList leaf paths;
in derivation {
  name = "bench-closure";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  args = [ "-c" "echo ${toString leaves} > $out" ];
  inherit seed;
}
