{ infrastructure }:
{
  counter = [ infrastructure.test2 ];
  blob = [ infrastructure.test1 infrastructure.test2 ];
}
