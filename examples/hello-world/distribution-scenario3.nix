# Scenario 3: the server moves to test3 (Cygwin): the controller cannot build for it, so
# this needs building on the targets (-e disnix_build_on_targets=true).
{ infrastructure }:

{
  hello_world_server = [ infrastructure.test3 ];
  hello_world_client = [ infrastructure.test1 infrastructure.test3 ];
}
