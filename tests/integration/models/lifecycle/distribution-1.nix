{ infrastructure }:
{
  counter = [ infrastructure.test1 ];
  blob = [ infrastructure.test1 infrastructure.test2 ];
}
