# The same network in today's syntax (properties, defaults for what is left out).
{
  test1 = { properties.hostname = "test1"; system = "i686-linux"; };   # ssh (default clientInterface)
  test2 = {
    properties = {
      hostname = "test2";
      targetEPR = "http://test2:8080/DisnixWebService/services/DisnixWebService";
    };
    system = "x86_64-linux";
    targetProperty = "targetEPR";
    clientInterface = "disnix-soap-client";
  };
  test3 = { properties.hostname = "test3"; system = "x86_64-cygwin"; clientInterface = "disnix-ssh-client"; };
}
