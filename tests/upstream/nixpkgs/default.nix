# A stand-in for Nixpkgs with exactly what upstream Disnix's own Nix expressions
# (share/disnix/*.nix) use, so `disnix-env` runs offline: a few lib functions,
# stdenv.mkDerivation with buildCommand, libxslt (its xsltproc) and buildEnv; and a callPackage
# with Nixpkgs-like override wrapping, for models written the way Nixpkgs packages are.
# Builders are the host's /bin/sh and tools (the lab's Nix has no sandbox), like the
# examples' packages. Put it on NIX_PATH as nixpkgs=<this directory>.
{ system ? builtins.currentSystem, ... }:

let
  lib = import ./lib.nix;

  # the derivation's environment has no PATH; buildInputs' bin/ come first, then the host's
  builder = builtins.toFile "stand-in-builder.sh" ''
    PATH=
    for p in $buildInputs $nativeBuildInputs; do PATH=$PATH''${PATH:+:}$p/bin; done
    export PATH=$PATH''${PATH:+:}/usr/local/bin:/usr/bin:/bin
    eval "$buildCommand"
  '';

  mkDerivation = { name, buildCommand, buildInputs ? [], ... }@attrs:
    derivation (removeAttrs attrs [ "meta" ] // {
      inherit name system buildCommand buildInputs;
      builder = "/bin/sh";
      args = [ "-e" builder ];
    });

  # a plain tree of symlinks into the paths' trees; with ignoreCollisions the first path wins
  buildEnv = { name, paths, ignoreCollisions ? false, ... }: mkDerivation {
    inherit name paths;
    ignoreCollisions = if ignoreCollisions then "1" else "";
    buildCommand = ''
      mkdir -p $out
      for p in $paths; do
        [ -d "$p" ] || continue
        (cd "$p" && find . -mindepth 1 \( -type d -printf 'd %p\n' \) -o -printf 'f %p\n') |
        while read -r kind rel; do rel=''${rel#./}
          if [ "$kind" = d ]; then mkdir -p "$out/$rel"
          elif [ -e "$out/$rel" ] || [ -L "$out/$rel" ]; then
            [ -n "$ignoreCollisions" ] || { echo "buildEnv: collision on $rel ($p)" >&2; exit 1; }
          else ln -s "$p/$rel" "$out/$rel"
          fi
        done
      done
    '';
  };

  libxslt = mkDerivation {
    name = "libxslt-host";
    buildCommand = ''
      mkdir -p $out/bin
      ln -s /usr/bin/xsltproc $out/bin/xsltproc
    '';
  };
  # Nixpkgs' override wrapping, as models see it: the result of makeOverridable carries
  # `override` (call again with changed arguments); a result that is a function (a package
  # taking its inter-dependencies) becomes an attribute set with `__functor`, so it stays
  # callable but builtins.isFunction says false
  makeOverridable = f: args:
    let
      result = f args;
      override = changed: makeOverridable f (args // changed);
    in
    if builtins.isFunction result then { inherit override; __functor = _self: result; }
    else if builtins.isAttrs result then result // { inherit override; }
    else result;

  # arguments of fn found in this set, then the given ones
  callPackage = fn: args: makeOverridable fn (builtins.intersectAttrs (builtins.functionArgs fn) pkgs // args);

  pkgs = {
    inherit lib system buildEnv libxslt callPackage;
    stdenv = { inherit mkDerivation; };
  };
in
pkgs
