# Every service of distribution-a.nix on another host: a transition of ten waves
# (s5..s1 deactivated, then s1..s5 activated, each on its own host).
{ infrastructure }:
{
  s1 = [ infrastructure.test2 ];
  s2 = [ infrastructure.test3 ];
  s3 = [ infrastructure.test1 ];
  s4 = [ infrastructure.test2 ];
  s5 = [ infrastructure.test3 ];
}
