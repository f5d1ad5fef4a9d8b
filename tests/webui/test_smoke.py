"""Every page renders for the kind of user it is for."""

import pytest

PAGES = {
    "provider": ["/provider/", "/provider/resellers", "/provider/resellers/new",
                 "/provider/resellers/acme", "/provider/resellers/acme/edit",
                 "/provider/nodes", "/provider/nodes/node1", "/provider/incidents",
                 "/provider/audit", "/jobs/", "/account/password"],
    "reseller_a": ["/reseller/", "/reseller/?period=week", "/reseller/plans",
                   "/reseller/plans/new", "/reseller/plans/basic/edit", "/reseller/customers",
                   "/reseller/customers?q=shop&sort=-contractor", "/reseller/customers/new",
                   "/reseller/customers/shop1", "/reseller/customers/shop1/edit",
                   "/reseller/incidents", "/reseller/settings", "/reseller/audit", "/jobs/"],
    "enduser_a": ["/panel/", "/panel/domains", "/panel/mail", "/panel/ftp",
                  "/panel/databases", "/panel/disk", "/panel/dns",
                  "/panel/dns?zone=shop1.example", "/panel/system-password", "/jobs/",
                  "/account/password"],
}


@pytest.mark.parametrize("who", sorted(PAGES))
def test_pages_render(as_, who):
    b = as_(who)
    for url in PAGES[who]:
        r = b.get(url)
        assert r.status_code == 200, (url, r.get_data(as_text=True)[:3000])
        assert "Traceback" not in r.get_data(as_text=True)
