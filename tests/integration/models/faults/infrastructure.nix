{
  test1 = { properties.hostname = "test1"; };
  test2 = { properties.hostname = "test2"; };
  test3 = { properties.hostname = "test3"; };
}
