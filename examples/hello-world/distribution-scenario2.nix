# Scenario 2: a second client on test3 talks to the same server.
{ infrastructure }:

{
  hello_world_server = [ infrastructure.test2 ];
  hello_world_client = [ infrastructure.test1 infrastructure.test3 ];
}
