# The fault suite's first configuration: the chain s1 <- s2 <- s3 <- s4 <- s5 spread over
# the three hosts. distribution-b.nix moves every service to another host.
{ infrastructure }:
{
  s1 = [ infrastructure.test1 ];
  s2 = [ infrastructure.test2 ];
  s3 = [ infrastructure.test3 ];
  s4 = [ infrastructure.test1 ];
  s5 = [ infrastructure.test2 ];
}
