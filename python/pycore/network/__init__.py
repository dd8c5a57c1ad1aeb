"""Container networking: bridges, veth pairs, addresses (IPAM), published ports (nftables
DNAT), name resolution through kept-in-sync hosts files, and the sweep that removes what a
killed command left. The only package that runs `ip`, `nft`, `unshare` and `nsenter`."""
