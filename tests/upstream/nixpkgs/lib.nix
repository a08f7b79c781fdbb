# The Nixpkgs lib functions upstream Disnix's expressions call, written after their
# documented behaviour.
let
  inherit (builtins) attrNames elem filter foldl' head isAttrs length listToAttrs;
in
rec {
  optionalAttrs = cond: attrs: if cond then attrs else { };

  mapAttrs = builtins.mapAttrs;

  filterAttrs = pred: set:
    listToAttrs (map (name: { inherit name; value = set.${name}; })
      (filter (name: pred name set.${name}) (attrNames set)));

  # first occurrence kept, order kept
  unique = list: foldl' (acc: x: if elem x acc then acc else acc ++ [ x ]) [ ] list;

  genAttrs = names: f: listToAttrs (map (name: { inherit name; value = f name; }) names);

  foldr = op: nul: list:
    let
      len = length list;
      go = n: if n == len then nul else op (builtins.elemAt list n) (go (n + 1));
    in
    go 0;

  findFirst = pred: default: list:
    let found = filter pred list; in if found == [ ] then default else head found;

  any = builtins.any;

  # right wins; attribute sets on both sides are merged recursively
  recursiveUpdate = lhs: rhs:
    lhs // builtins.mapAttrs (name: value:
      if isAttrs value && lhs ? ${name} && isAttrs lhs.${name}
      then recursiveUpdate lhs.${name} value
      else value) rhs;
}
