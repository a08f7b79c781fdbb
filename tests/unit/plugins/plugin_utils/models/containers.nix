/* Targets with containers (Dysnomia container properties) and numOfCores. */
{
  db = {
    properties = {
      hostname = "db.example.org:2222";
      supportedTypes = [ "process" "mysql-database" "wrapper" ];
      mem = 8192;
    };
    containers = {
      mysql-database = {
        mysqlPort = 3306;
        mysqlUsername = "root";
        mysqlPassword = "secret";
      };
      process.runtimeDir = "/var/run";
    };
    system = "x86_64-linux";
    numOfCores = 4;
  };

  web = {
    properties.hostname = "[fe80::1]:22";
    containers.tomcat-webapplication = {
      tomcatPort = 8080;
      catalinaBaseDir = "/var/tomcat";
    };
    containers.process = { };
    numOfCores = 2;
    system = "aarch64-linux";
  };
}
