"""The web import page: upload, the progress partial running one batch per poll, roles and tenants."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from leadsea.intake.models import ImportJob
from leadsea.leads.models import Lead
from test_web import login

CSV = (
    "店名,地址,电话\n"
    + "".join(f"网页导入店{i}号,北京市朝阳区网页路{i}号,1370013{i:04d}\n" for i in range(7))
    + ",无名,\n"
)


def test_upload_then_poll_until_done(org: Any, other_org: Any) -> None:
    client = login(org.manager)
    page = client.get("/intake/import/")
    assert page.status_code == 200 and 'type="file"' in page.content.decode()
    r = client.post(
        "/intake/import/", {"file": SimpleUploadedFile("shops.csv", CSV.encode("utf-8")), "source": "web"}
    )
    assert r.status_code == 302
    job = ImportJob.objects.get(tenant=org.tenant)
    assert r["Location"].endswith(f"/intake/import/{job.pk}/")
    shown = client.get(r["Location"]).content.decode()
    assert "<progress" in shown and "hx-post" in shown
    job.batch_size = 3
    job.save()
    polls = 0
    while True:
        polls += 1
        partial = client.post(f"/intake/import/{job.pk}/progress/").content.decode()
        if "hx-post" not in partial:
            break
        assert polls < 10
    assert polls == 3
    assert "100%" in partial and "9" in partial  # the bad row's line
    assert Lead.objects.filter(tenant=org.tenant).count() == 7
    # other roles and tenants
    assert login(org.bd1).get("/intake/import/").status_code == 403
    assert login(other_org.admin).get(f"/intake/import/{job.pk}/").status_code == 404
    assert login(other_org.admin).post(f"/intake/import/{job.pk}/progress/").status_code == 404


def test_a_bad_file_is_refused_with_its_reason(org: Any) -> None:
    client = login(org.admin)
    r = client.post("/intake/import/", {"file": SimpleUploadedFile("x.pdf", b"%PDF"), "source": "web"})
    assert r.status_code == 422 and "CSV" in r.content.decode()
    assert not ImportJob.objects.filter(tenant=org.tenant).exists()
