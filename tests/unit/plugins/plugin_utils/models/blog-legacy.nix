# The infrastructure model of the blog post "Deploying services to a heterogeneous network
# of machines with Disnix" (2015), in the pre-0.5 form: properties at the top of each target.
{
  test1 = { # x86 Linux machine (Kubuntu) reachable with SSH
    hostname = "test1";
    system = "i686-linux";
    targetProperty = "hostname";
    clientInterface = "disnix-ssh-client";
  };

  test2 = { # x86-64 Linux machine (NixOS) reachable with SOAP/HTTP
    hostname = "test2";
    system = "x86_64-linux";
    targetEPR = "http://test2:8080/DisnixWebService/services/DisnixWebService";
    targetProperty = "targetEPR";
    clientInterface = "disnix-soap-client";
  };

  test3 = { # x86-64 Windows machine (Windows 7) reachable with SSH
    hostname = "test3";
    system = "x86_64-cygwin";
    targetProperty = "hostname";
    clientInterface = "disnix-ssh-client";
  };
}
