# `n` trivial derivations (each writes one line) for timing builds; `seed` makes them new.
{ n ? 2000, seed ? "1" }:
builtins.genList (i: derivation {
  name = "bench-drv-${toString i}";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  args = [ "-c" "echo ${toString i} > $out" ];
  inherit seed;
}) n
