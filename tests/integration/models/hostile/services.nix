# Services of the hostile-model test (tests/integration/test_hostile_models.py). Model data
# only ever reaches a build as a derivation attribute (an environment variable the builder
# writes with printf '%s'), never as build script text, so this model itself runs nothing.
# extra param `note`: any text (it ends up in share/<name>/note of each package); `stamp`
# makes the builds this test run's own.
{ system, note ? "", stamp ? "", ... }:

let
  withNote = name: derivation {
    inherit name system note stamp;
    builder = "/bin/sh";
    args = [ "-c" ''/bin/mkdir -p $out/share/${name} && printf '%s' "$note" > $out/share/${name}/note'' ];
  };
  # a service name made of shell and Jinja syntax: it must stay a name
  oddName = "odd $(touch /tmp/disnix-hostile-canary-name1) `touch /tmp/disnix-hostile-canary-name2`; "
    + "{{ lookup('pipe', 'touch /tmp/disnix-hostile-canary-name3') }}";
in
{
  # echo (Dysnomia's): the activation prints its container properties
  echoer = { name = "echoer"; type = "echo"; pkg = withNote "echoer"; };
  # package: only joined into the profile, whose manifest carries the properties
  blob = { name = "blob"; type = "package"; pkg = withNote "blob"; };
  ${oddName} = { name = oddName; type = "echo"; pkg = withNote "odd"; };
}
