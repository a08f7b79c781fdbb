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
#   nixpkgs                         a path of nixpkgs, or "" when there is none
#   extraParamsFile                 a JSON file: extra arguments for the services function
# (model data goes through files, never the command line: it may exceed the argument limit)
#   phase                           "structure": names, types, edges and positions of every
#                                   service, no package is touched;
#                                   "packages": drvPath/outPath of every mapping's pkg
EVALUATE = r"""
{ servicesFile, distributionFile, infrastructureFile, nixpkgs, extraParamsFile, phase }:

let
  inherit (builtins) attrNames concatLists filter functionArgs getAttr hasAttr head
    intersectAttrs isAttrs isFunction isList isString listToAttrs map mapAttrs typeOf
    unsafeGetAttrPos;

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

  # both Disnix forms: [ infrastructure.a ... ] and { targets = [ { target = ...; container = ...; } ]; }
  mappingsOf = service:
    let d = getAttr service distribution;
    in if isList d then map (t: { target = targetNameOf service t; container = null; }) d
       else if isAttrs d && d ? targets then
         map (m: if isAttrs m && m ? target
                 then { target = targetNameOf service m.target; container = m.container or null; }
                 else { target = targetNameOf service m; container = null; }) d.targets
       else throw "distribution of '${service}': expected a list of targets or { targets = [ ... ]; }";

  distributedNames = attrNames distribution;

  pkgsFor = system:
    if nixpkgs == "" then
      throw "the services model uses pkgs, but there is no nixpkgs: set disnix_nixpkgs or NIX_PATH=nixpkgs=..."
    else import nixpkgs { inherit system; };

  invDistribution = mapAttrs (name: t: t // {
    services = listToAttrs (map (s: { name = s; value = getAttr s (servicesFor t.system); })
      (filter (s: builtins.any (m: m.target == name) (mappingsOf s)) distributedNames));
  }) infrastructure;

  servicesFun = import servicesFile;
  servicesFor = system: call servicesFun ({
    inherit system distribution invDistribution;
    pkgs = pkgsFor system;
  } // extraParams);

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

  reserved = [ "name" "pkg" "type" "dependsOn" "connectsTo" "activatesAfter" "deployState"
               "providesContainer" "providesContainers" "targets" ];

  structure =
    let services = servicesFor anySystem;
    in {
      services = mapAttrs (attr: s: {
        name = s.name or null;
        type = s.type or null;
        hasPkg = s ? pkg;
        pkgIsFunction = s ? pkg && isFunction s.pkg;
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

  # what a dependency looks like inside the pkg function of a service that depends on it
  dependencyArg = system: depService:
    let
      dep = getAttr depService (servicesFor system);
      targets = map (m:
        let t = getAttr m.target infrastructure;
            container = if m.container != null then m.container else dep.type;
        in {
          inherit (t) properties system numOfCores clientInterface targetProperty targetName;
          containers = t.containers;
          container = (t.containers.${container} or { }) // { name = container; };
        }) (mappingsOf depService);
    in builtins.removeAttrs dep [ "pkg" "dependsOn" "connectsTo" "activatesAfter" ] // {
      inherit targets;
      target = head targets;
    };

  packages = listToAttrs (map (name: { inherit name; value = map (m:
    let
      system = (getAttr m.target infrastructure).system;
      s = getAttr name (servicesFor system);
      deps = (s.dependsOn or { }) // (s.connectsTo or { });
      pkg = if isFunction s.pkg then s.pkg (mapAttrs (param: dep: dependencyArg system dep.name) deps)
            else s.pkg;
    in {
      # not drvPath/outPath: a set with outPath would print as that path
      inherit (m) target;
      drv = pkg.drvPath;
      out = pkg.outPath;
    }) (mappingsOf name); }) distributedNames);

in if phase == "structure" then structure else packages
"""

# Instantiates the per-target profiles. Argument (with --argstr):
#   specFile  a JSON file: { <target> = { services = [ <store path> ... ]; manifestDir = <dir holding
#             profilemanifest.json>; }; }
# Result: { <target> = { drv; out; }; }
# A profile joins the service packages of its target with builtin:buildenv (the builder
# nix-env uses for user environments: no nixpkgs and no host tools needed) plus a directory
# with the target's profilemanifest.json, as Disnix's profiles do.
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
    profile = buildEnv "disnix-profile-${target}" ((map builtins.storePath p.services)
      # `builtins.path` copies the directory into the store at evaluation time
      ++ [ (builtins.path { name = "disnix-profilemanifest-${target}"; path = p.manifestDir; }) ]);
  in { drv = profile.drvPath; out = profile.outPath; }) (builtins.fromJSON (builtins.readFile specFile))
"""

# Adds a generation's manifest to the store. Arguments (with --argstr, paths of files):
# `textFile`, the manifest JSON, and `refsFile`, a JSON list of the store paths it must keep
# alive (the target profiles).
# toFile records a reference for every store path whose context the text carries, so a
# controller generation keeps whole deployments alive for rollback.
MANIFEST = r"""
{ textFile, refsFile }:
builtins.toFile "disnix-manifest.json" (builtins.foldl'
  (acc: p: acc + builtins.substring 0 0 (builtins.storePath p)) (builtins.readFile textFile)
  (builtins.fromJSON (builtins.readFile refsFile)))
"""
