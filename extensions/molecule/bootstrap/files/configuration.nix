# A NixOS system configuration as nixos-generate-config leaves it (molecule scenario "default").
{ config, pkgs, ... }:

{
  imports =
    [ # Include the results of the hardware scan.
      ./hardware-configuration.nix
    ];

  boot.loader.grub.device = "/dev/sda";
  networking.firewall.enable = false;
  system.stateVersion = "23.11";
}
