# distribution-2 plus the lock-vetoing wrapper on test1
{ infrastructure }:
{
  db = [ infrastructure.test3 ];
  api = [ infrastructure.test2 ];
  web = [ infrastructure.test3 ];
  guard = [ infrastructure.test1 ];
}
