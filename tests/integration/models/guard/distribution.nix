{ infrastructure }:
{
  db = [ infrastructure.test1 ];
  api = [ infrastructure.test2 ];
  web = [ infrastructure.test3 ];
}
