"""Users, groups and django-q2's task tables on the back office's look (unfold's admin).

Django and django-q2 register these with the stock ``ModelAdmin``; they are registered again
here with the same options on ``amazonsync.adminkit.ModelAdmin``."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as _GroupAdmin
from django.contrib.auth.admin import UserAdmin as _UserAdmin
from django.contrib.auth.models import Group, User
from django_q import admin as q_admin
from django_q.models import Failure, OrmQ, Schedule, Success
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from .adminkit import ModelAdmin


class UserAdmin(_UserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm


class GroupAdmin(_GroupAdmin, ModelAdmin):
    pass





class ScheduleAdmin(q_admin.ScheduleAdmin, ModelAdmin):
    pass


class SuccessAdmin(q_admin.TaskAdmin, ModelAdmin):
    pass


class FailureAdmin(q_admin.FailAdmin, ModelAdmin):
    pass


class QueueAdmin(q_admin.QueueAdmin, ModelAdmin):
    pass


for _model, _admin in ((User, UserAdmin), (Group, GroupAdmin), (Schedule, ScheduleAdmin),
                       (Success, SuccessAdmin), (Failure, FailureAdmin), (OrmQ, QueueAdmin)):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
    admin.site.register(_model, _admin)
