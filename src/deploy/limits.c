/*
 * deploy/limits.c - a machine preset as the resource limits of a worker
 * process (docs/deploy.md §3, "Machines"). With a writable cgroup v2 tree
 * each process slot gets its own cgroup: memory.max at the preset's memory
 * (the kernel's OOM killer ends the task process, which the controller
 * reports as killed by SIGKILL: out of memory), memory.swap.max 0, and
 * cpu.max at the preset's vCPUs. Without one, RLIMIT_DATA (set by the
 * process's shell before it execs node) bounds memory and CPU is not
 * limited. The tree is TRIGGERD_CGROUP (a directory triggerd may create
 * cgroups in, e.g. systemd's Delegate=yes), else triggerd's own cgroup when
 * /sys/fs/cgroup is cgroup2 and delegates memory and cpu; "off": none.
 */
#include "deploy/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#define CGROUP2_MAGIC 0x63677270

/* Writes s to dir/file (created when missing: a plain directory stands in
 * for cgroupfs in tests). */
static int put(const char *dir, const char *file, const char *s)
{
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, s, strlen(s));
    int err = n == (ssize_t)strlen(s) ? 0 : -(n < 0 ? errno : EIO);
    close(fd);
    return err;
}

/* triggerd's own cgroup v2 directory, or "" (not on cgroup2). */
static void own_cgroup(char *buf, size_t cap)
{
    buf[0] = 0;
    struct statfs sf;
    if (statfs("/sys/fs/cgroup", &sf) != 0 || sf.f_type != CGROUP2_MAGIC)
        return;
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return;
    char line[1024];
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "0::", 3) == 0) {
            line[strcspn(line, "\n")] = 0;
            snprintf(buf, cap, "/sys/fs/cgroup%.900s", strcmp(line + 3, "/") == 0 ? "" : line + 3);
            break;
        }
    fclose(f);
}

/* Lets root's children have memory and cpu limits. A cgroup with processes
 * of its own cannot (cgroup v2's no-internal-processes rule): triggerd then
 * moves itself into a leaf, root/triggerd, first. */
static int delegate(const char *root)
{
    int rc = put(root, "cgroup.subtree_control", "+memory +cpu");
    if (rc != -EBUSY)
        return rc;
    char leaf[1200], pid[32];
    snprintf(leaf, sizeof leaf, "%s/triggerd", root);
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    if ((mkdir(leaf, 0755) != 0 && errno != EEXIST) || put(leaf, "cgroup.procs", pid) != 0)
        return -EBUSY;
    return put(root, "cgroup.subtree_control", "+memory +cpu");
}

void deploy__limits_init(deployer *d)
{
    const char *cfg = d->a->cfg.cgroup;
    d->cg_root[0] = 0;
    if (strcmp(cfg, "off") == 0)
        return;
    char root[1024];
    if (cfg[0])
        snprintf(root, sizeof root, "%.1000s", cfg);
    else
        own_cgroup(root, sizeof root);
    int rc = root[0] ? delegate(root) : -ENOENT;
    if (rc == 0)
        snprintf(d->cg_root, sizeof d->cg_root, "%s", root);
    if (d->cg_root[0] || cfg[0])
        fprintf(stderr, "triggerd: deployed workers' machine limits: %s%s%s\n",
                d->cg_root[0] ? "cgroup v2 under " : "RLIMIT_DATA (cannot use the cgroup ",
                d->cg_root[0] ? d->cg_root : root, d->cg_root[0] ? "" : ")");
}

int deploy__limits_slot(deployer *d, const char *name, double cpu, double memory_gb, char *dir,
                        size_t cap)
{
    dir[0] = 0;
    if (!d->cg_root[0])
        return -1;
    char path[1300], v[64];
    snprintf(path, sizeof path, "%s/%s", d->cg_root, name);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return -1;
    snprintf(v, sizeof v, "%lld", (long long)(memory_gb * 1073741824.0));
    if (put(path, "memory.max", v) != 0)
        return -1;
    put(path, "memory.swap.max", "0"); /* absent without swap accounting */
    snprintf(v, sizeof v, "%lld 100000", (long long)(cpu * 100000));
    if (put(path, "cpu.max", v) != 0)
        return -1;
    snprintf(dir, cap, "%s", path);
    return 0;
}

void deploy__limits_release(deployer *d, const char *name)
{
    if (!d->cg_root[0])
        return;
    char path[1300];
    snprintf(path, sizeof path, "%s/%s", d->cg_root, name);
    if (rmdir(path) == 0 || errno == ENOENT || errno == EBUSY)
        return;
    /* a plain directory standing in for cgroupfs keeps the files we wrote */
    static const char *const files[] = {"memory.max", "memory.swap.max", "cpu.max",
                                        "cgroup.procs"};
    char f[1400];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(f, sizeof f, "%s/%s", path, files[i]);
        unlink(f);
    }
    rmdir(path);
}
