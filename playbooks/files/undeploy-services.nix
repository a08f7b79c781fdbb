# playbooks/undeploy.yml: no services
{ ... }: { }
