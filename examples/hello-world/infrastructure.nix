# The blog post's heterogeneous network, mapped onto the lab hosts test1..test3:
# test1 is an i686 Linux machine reached over SSH, test2 an x86_64 Linux machine
# reached over SOAP/HTTP (the inventory manages it over ssh on the targetEPR's host),
# test3 an x86_64 Cygwin machine reached over SSH.
{
  test1 = {
    properties.hostname = "test1";
    system = "i686-linux";
  };

  test2 = {
    properties = {
      hostname = "test2";
      targetEPR = "http://test2:8080/DisnixWebService/services/DisnixWebService";
    };
    system = "x86_64-linux";
    targetProperty = "targetEPR";
    clientInterface = "disnix-soap-client";
  };

  test3 = {
    properties.hostname = "test3";
    system = "x86_64-cygwin";
    clientInterface = "disnix-ssh-client";
  };
}
