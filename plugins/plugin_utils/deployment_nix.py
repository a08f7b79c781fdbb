# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Nix expressions that evaluate services and distribution models the way Disnix does.

They are kept as strings so the collection ships no loose .nix files; services.py writes
them to a temporary file and runs nix-instantiate on them.
"""

from __future__ import annotations

# Evaluates the models. Arguments (all strings, passed with --argstr):
#   servicesFile, distributionFile  absolute paths of the models
#   infrastructureFile              a JSON file: the normalised infrastructure (from the inventory)
#   nixpkgs                         a path of nixpkgs, or "" for <nixpkgs> (NIX_PATH or Nix's
#                                   default search path) when it resolves
#   extraParamsFile                 a JSON file: extra arguments for the services function
# (model data goes through files, never the command line: it may exceed the argument limit)
#   phase                           "structure": names, types, edges and positions of every
#                                   service, no package is touched;
#                                   "packages": drvPath/outPath of every mapping's pkg;
#                                   "both": { structure; packages; } in one nix-instantiate
EVALUATE = r"""
{ servicesFile, distributionFile, infrastructureFile, nixpkgs, extraParamsFile, phase }:

let
  inherit (builtins) attrNames attrValues concatLists concatStringsSep filter functionArgs getAttr
    hashString head intersectAttrs isAttrs isFunction isList isString listToAttrs map mapAttrs
    removeAttrs toXML typeOf unsafeDiscardStringContext unsafeGetAttrPos;

  pos = name: set:
    let p = unsafeGetAttrPos name set;
    in if p == null then null else { inherit (p) file line column; };

  # apply a model function to the arguments it names (all of them when it takes `{ ... }`
  # without naming any); plain attribute sets are used as they are
  call = f: args:
    if isFunction f then
      (let named = functionArgs f; in f (if named == { } then args else intersectAttrs named args))
    else f;

  infrastructure = mapAttrs (targetName: t: t // { inherit targetName; })
    (builtins.fromJSON (builtins.readFile infrastructureFile));

  extraParams = builtins.fromJSON (builtins.readFile extraParamsFile);

  distribution = call (import distributionFile) { inherit infrastructure; };

  targetNameOf = service: t:
    if isAttrs t && t ? targetName then t.targetName
    else throw "distribution of '${service}': a target must be one of infrastructure.<name>, got a ${typeOf t}";

  distributedNames = attrNames distribution;

  # both Disnix forms: [ infrastructure.a ... ] and { targets = [ { target = ...; container = ...; } ]; }
  # (computed once per service: everything below looks them up)
  mappings = mapAttrs (service: d:
    if isList d then map (t: { target = targetNameOf service t; container = null; }) d
    else if isAttrs d && d ? targets then
      map (m: if isAttrs m && m ? target
              then { target = targetNameOf service m.target; container = m.container or null; }
              else { target = targetNameOf service m; container = null; }) d.targets
    else throw "distribution of '${service}': expected a list of targets or { targets = [ ... ]; }") distribution;
  mappingsOf = service: getAttr service mappings;

  # the services function runs once per system of the infrastructure, never per mapping or
  # per dependency argument: everything per system is looked up in these sets
  systems = attrNames (listToAttrs (map (t: { name = t.system; value = null; })
    (if infrastructure == { } then [ { system = builtins.currentSystem; } ] else attrValues infrastructure)));
  perSystem = f: listToAttrs (map (system: { name = system; value = f system; }) systems);

  # looked up here rather than with `nix-instantiate --find-file`: one process fewer
  nixpkgsPath = if nixpkgs != "" then nixpkgs
    else let found = builtins.tryEval <nixpkgs>; in if found.success then found.value else "";

  pkgsFor = system:
    if nixpkgsPath == "" then
      throw "the services model uses pkgs, but there is no nixpkgs: set disnix_nixpkgs or NIX_PATH=nixpkgs=..."
    else import nixpkgsPath { inherit system; };

  # the names of the services on each target, from one pass over every mapping
  namesOnTarget = builtins.groupBy (x: x.target) (concatLists (map (name:
    map (m: { inherit (m) target; inherit name; }) (mappingsOf name)) distributedNames));

  invDistribution = mapAttrs (name: t: t // {
    services = listToAttrs (map (x: { inherit (x) name; value = getAttr x.name (servicesFor t.system); })
      (namesOnTarget.${name} or [ ]));
  }) infrastructure;

  servicesFun = import servicesFile;
  servicesBySystem = perSystem (system: call servicesFun ({
    inherit system distribution invDistribution;
    pkgs = pkgsFor system;
  } // extraParams));
  servicesFor = system: getAttr system servicesBySystem;

  anySystem = if infrastructure == { } then builtins.currentSystem
              else (getAttr (head (attrNames infrastructure)) infrastructure).system;

  # the name of the service a dependsOn/connectsTo/activatesAfter entry refers to
  depName = service: kind: param: dep:
    if isAttrs dep && dep ? name && isString dep.name then dep.name
    else throw "service '${service}': ${kind}.${param} must be a service of the services model";

  edges = service: kind: s:
    let e = s.${kind} or { };
    in if isAttrs e then mapAttrs (depName service kind) e
       else throw "service '${service}': ${kind} must be an attribute set";

  structure =
    let services = servicesFor anySystem;
    in {
      services = mapAttrs (attr: s: {
        name = s.name or null;
        type = s.type or null;
        hasPkg = s ? pkg;
        dependsOn = edges attr "dependsOn" s;
        connectsTo = edges attr "connectsTo" s;
        activatesAfter = edges attr "activatesAfter" s;
        deployState = s.deployState or false;
        # free attributes (Disnix ignores them): plugin_utils/guard.py checks them
        healthCheck = s.healthCheck or null;
        tags = s.tags or null;
        position = pos "name" s;
        attrPosition = pos attr services;
      }) services;
      distribution = listToAttrs (map (name: { inherit name; value = {
        mappings = mappingsOf name;
        position = pos name distribution;
      }; }) distributedNames);
    };

  containerOf = s: m: if m.container != null then m.container else s.type;

  # A target as a service's pkg function sees it (Disnix's generateInterDependencyTarget):
  # the target's attributes, the selected container's name and its properties.
  targetArg = s: m:
    let t = getAttr m.target infrastructure; c = containerOf s m;
    in {
      inherit (t) properties system numOfCores clientInterface targetProperty targetName containers;
      selectedContainer = c;
      container = (t.containers.${c} or { }) // { name = c; };
    };

  # the inter-dependency parameters of a service: connectsTo and dependsOn (dependsOn wins)
  interDeps = s: (s.connectsTo or { }) // (s.dependsOn or { });

  # Per system and service: the set a dependant's pkg function receives for it. As in Disnix,
  # the dependency's own connectsTo/dependsOn are not exposed as they are; its `connectsTo`
  # holds their arguments in the same form, transitively (lazy, so connectsTo cycles are fine).
  depArgs = perSystem (system: mapAttrs (name: s:
    let
      targets = map (targetArg s) (mappingsOf name);
      transitive = paramsOf system name;
    in removeAttrs s [ "pkg" "activatesAfter" "connectsTo" "dependsOn" ] // {
      inherit targets;
      target = if targets == [ ] then throw "service '${name}' is not distributed to any target" else head targets;
    } // (if transitive == { } then { } else { connectsTo = transitive; })) (servicesFor system));

  paramsOf = system: name:
    let s = getAttr name (servicesFor system);
    in mapAttrs (param: dep: getAttr (depName name "dependsOn/connectsTo" param dep) (getAttr system depArgs)) (interDeps s);

  where = name: let p = pos "name" (getAttr name (servicesFor anySystem));
    in if p == null then servicesFile else "${p.file}:${toString p.line}";

  # Disnix applies pkg to the inter-dependency parameters when there are any (a function, or
  # a set with __functor as Nixpkgs' callPackage/makeOverridable make) and uses it as it is
  # otherwise; what comes out must be a derivation
  applied = perSystem (system: mapAttrs (name: s:
    let
      params = paramsOf system name;
      callable = isFunction s.pkg || (isAttrs s.pkg && s.pkg ? __functor);
      pkg =
        if params == { } then s.pkg
        else if callable then s.pkg params
        else throw ("service '${name}' (${where name}): it has inter-dependencies (${concatStringsSep ", " (attrNames params)}), "
          + "so Disnix calls its pkg with them, but pkg is a ${typeOf s.pkg}, not a function: "
          + "write pkg = { ${concatStringsSep ", " (attrNames params)} }: ...");
    in
      if isAttrs pkg && pkg ? outPath && pkg ? drvPath then pkg
      else if isFunction pkg || (isAttrs pkg && pkg ? __functor) then
        throw ("service '${name}' (${where name}): pkg is still a function after "
          + (if params == { } then "Disnix used it as it is (the service has no dependsOn/connectsTo, so pkg is not called)"
             else "it was called with its inter-dependencies")
          + ": a package expression with an inner function header for inter-dependencies must only have one when the service has some "
          + "(an empty header `{ }:` is the classic cause of \"attribute 'outPath' missing\", disnix#13); "
          + "remove it, or call the function in the services model")
      else throw ("service '${name}' (${where name}): pkg must be a derivation, got "
        + (if isAttrs pkg then "an attribute set without outPath/drvPath" else "a ${typeOf pkg}"))
  ) (servicesFor system));

  # Disnix's service key (generate-deployment-model.nix): the sha256 of
  # builtins.toXML { name type pkg dependsOn }, where dependsOn lists the keys, targets and
  # containers of everything the service activates after (activatesAfter and dependsOn)
  keys = perSystem (system: mapAttrs (name: s:
    let ordered = (s.activatesAfter or { }) // (s.dependsOn or { });
    in unsafeDiscardStringContext (hashString "sha256" (toXML {
      inherit (s) name type;
      pkg = (getAttr name (getAttr system applied)).outPath;
      dependsOn = concatLists (map (param:
        let dep = depName name "dependsOn" param (getAttr param ordered);
        in map (m: {
          service = getAttr dep (getAttr (getAttr m.target infrastructure).system keys);
          inherit (m) target;
          container = containerOf (getAttr dep (servicesFor system)) m;
        }) (mappingsOf dep)) (attrNames ordered));
    }))) (servicesFor system));

  packages = listToAttrs (map (name: { inherit name; value = map (m:
    let
      system = (getAttr m.target infrastructure).system;
      pkg = getAttr name (getAttr system applied);
    in {
      # not drvPath/outPath: a set with outPath would print as that path
      inherit (m) target;
      drv = pkg.drvPath;
      out = pkg.outPath;
      key = getAttr name (getAttr system keys);
    }) (mappingsOf name); }) distributedNames);

in if phase == "structure" then structure
   else if phase == "packages" then packages
   else { inherit structure packages; }
"""

# Instantiates the per-target profiles. Argument (with --argstr):
#   specFile  a JSON file: { <target> = { services = [ <store path> ... ]; manifestDir = <dir holding
#             profilemanifest.xml and .json>; name = <store path name: the target's>; }; }
# Result: { <target> = { drv; out; }; }
# A profile joins the service packages of its target with builtin:buildenv (the builder
# nix-env uses for user environments: no nixpkgs and no host tools needed) plus a directory
# with the target's profile manifests, as Disnix's profiles do (named after the target).
PROFILES = r"""
{ specFile }:
let
  buildEnv = name: paths: derivation {
    inherit name;
    system = "builtin";
    builder = "builtin:buildenv";
    # the profile links this file as manifest.nix; as its text names every package (with
    # their contexts), the profile's closure holds every package, also one whose files all
    # lost a collision to another's (two wrappers both ship bin/wrapper)
    manifest = builtins.toFile "env-manifest.nix"
      ("[ " + builtins.concatStringsSep " " (map (p: "\"${p}\"") paths) + " ]");
    # a priority per package: two services may ship the same file (every Dysnomia wrapper has
    # bin/wrapper), which equal priorities would make a collision; the first one listed wins
    derivations = builtins.concatLists (builtins.genList
      (i: [ "true" (5 + i) 1 (builtins.elemAt paths i) ]) (builtins.length paths));
    preferLocalBuild = true;
    allowSubstitutes = false;
  };
in builtins.mapAttrs (target: p:
  let
    profile = buildEnv p.name ((map builtins.storePath p.services)
      # `builtins.path` copies the directory into the store at evaluation time
      ++ [ (builtins.path { name = "disnix-profilemanifest-${target}"; path = p.manifestDir; }) ]);
  in { drv = profile.drvPath; out = profile.outPath; }) (builtins.fromJSON (builtins.readFile specFile))
"""

# Adds a generation's manifest to the store. Arguments (with --argstr, paths of files):
# `textFile`, the manifest (Disnix's manifest.xml), and `refsFile`, a JSON list of the store paths it must keep
# alive (the target profiles).
# toFile records a reference for every store path whose context the text carries, so a
# controller generation keeps whole deployments alive for rollback.
MANIFEST = r"""
{ textFile, refsFile }:
builtins.toFile "manifest.xml" (builtins.foldl'
  (acc: p: acc + builtins.substring 0 0 (builtins.storePath p)) (builtins.readFile textFile)
  (builtins.fromJSON (builtins.readFile refsFile)))
"""
