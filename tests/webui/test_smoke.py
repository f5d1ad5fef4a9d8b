def test_pages_render(as_):
    p = as_("provider")
    for url in ("/provider/", "/provider/resellers", "/provider/nodes", "/jobs/",
                "/provider/audit", "/provider/incidents", "/provider/resellers/acme",
                "/provider/nodes/node1", "/provider/resellers/new"):
        r = p.get(url)
        assert r.status_code == 200, (url, r.get_data(as_text=True)[:3000])
