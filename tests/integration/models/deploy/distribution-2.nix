# db moves from test1 to test3: api (which bakes in db's host) is rebuilt and redeployed,
# web (which bakes in api's host, unchanged) is untouched
{ infrastructure }:
{
  db = [ infrastructure.test3 ];
  api = [ infrastructure.test2 ];
  web = [ infrastructure.test3 ];
}
