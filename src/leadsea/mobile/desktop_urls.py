"""The desktop to-do page (/todo/), built from the same to-do context as the mobile one."""

from django.urls import path

from leadsea.mobile import views

app_name = "desktop"
urlpatterns = [path("todo/", views.todo_desktop, name="todo")]
