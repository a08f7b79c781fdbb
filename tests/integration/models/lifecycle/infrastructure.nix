{
  test1 = { properties.hostname = "test1"; containers.process.runtimeDir = "/run"; };
  test2 = { properties.hostname = "test2"; containers.process.runtimeDir = "/run"; };
}
