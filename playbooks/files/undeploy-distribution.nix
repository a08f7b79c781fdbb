# playbooks/undeploy.yml: nothing goes anywhere
{ infrastructure }: { }
