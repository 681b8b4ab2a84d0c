"""A cgroup v2 guest: a Debian trixie virtual machine the harness builds and boots itself.

Most users run cgroup v2 with a current Docker; a machine on cgroup v1 (or an older
engine) cannot show what those users see. The guest is built on the host, offline from
Debian's packages (:mod:`harness.vm.image`), booted with qemu (:mod:`harness.vm.qemu`),
and runs the harness itself (:mod:`harness.vm.agent`), because the collectors must read
that kernel's files. Results come back to the host through a shared folder.
"""
