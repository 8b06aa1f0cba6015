"""The new-campaign form: bounded fields, turned into ``campaigns.services.CampaignSpec``."""

from __future__ import annotations

from datetime import time

from django import forms

from campaigns.models import RETRYABLE, Campaign
from campaigns.services import CampaignSpec

DAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]
UPLOAD_MAX_BYTES = 5 * 1024 * 1024


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=120)
    goal = forms.CharField(max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    days_of_week = forms.TypedMultipleChoiceField(
        choices=DAYS, coerce=int, initial=[0, 1, 2, 3, 4], widget=forms.CheckboxSelectMultiple
    )
    window_start = forms.TimeField(initial=time(9, 0), widget=forms.TimeInput(attrs={"type": "time"}))
    window_end = forms.TimeField(initial=time(20, 0), widget=forms.TimeInput(attrs={"type": "time"}))
    max_attempts = forms.IntegerField(min_value=1, max_value=10, initial=3)
    retry_spacing_minutes = forms.IntegerField(min_value=5, max_value=10080, initial=240)
    retry_on = forms.MultipleChoiceField(
        choices=[(r, r.replace("_", " ")) for r in RETRYABLE], initial=list(RETRYABLE), required=False,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    max_concurrent = forms.IntegerField(min_value=1, max_value=500, initial=5, label="Calls at once")
    approval_mode = forms.ChoiceField(choices=Campaign.ApprovalMode.choices, initial=Campaign.ApprovalMode.NONE)
    leads_file = forms.FileField(required=False, label="Leads (CSV)", help_text="phone_number, name, timezone, ...")
    add_interest = forms.MultipleChoiceField(
        choices=[("cold", "Cold"), ("warm", "Warm"), ("hot", "Hot")], required=False,
        widget=forms.CheckboxSelectMultiple, label="Or add customers who are",
    )  # fmt: skip

    def clean_leads_file(self):
        upload = self.cleaned_data.get("leads_file")
        if upload and upload.size > UPLOAD_MAX_BYTES:
            raise forms.ValidationError("The file is larger than 5 MB.")
        return upload

    def spec(self) -> CampaignSpec:
        data = self.cleaned_data
        return CampaignSpec(
            name=data["name"], goal=data["goal"], days_of_week=data["days_of_week"],
            window_start=data["window_start"], window_end=data["window_end"], max_attempts=data["max_attempts"],
            retry_spacing_minutes=data["retry_spacing_minutes"], retry_on=data["retry_on"],
            max_concurrent=data["max_concurrent"], approval_mode=data["approval_mode"],
        )  # fmt: skip


class DecisionForm(forms.Form):
    approve = forms.BooleanField(required=False)
    reason = forms.CharField(max_length=300, required=False)
