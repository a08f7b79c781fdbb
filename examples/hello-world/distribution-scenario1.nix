# Scenario 1: the server on test2, the client on test1.
{ infrastructure }:

{
  hello_world_server = [ infrastructure.test2 ];
  hello_world_client = [ infrastructure.test1 ];
}
