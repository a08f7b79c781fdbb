{
  test1 = { properties.hostname = "test1"; containers.process.runtimeDir = "/run"; };
  test2 = { properties.hostname = "test2"; containers.process.runtimeDir = "/run"; numOfCores = 2; };
  test3 = { properties.hostname = "test3"; containers.process.runtimeDir = "/run"; };
}
