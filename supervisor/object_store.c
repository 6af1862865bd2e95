/*
 * object_store.c — an object's directory: <data_dir>/<ns>/<id[0:2]>/<id>/.
 *
 * durod makes it before the first spawn and removes it when the object is
 * deleted; what is inside (db.sqlite, its WAL, the lock) belongs to the
 * worker. The two-character fan-out keeps directories small with millions
 * of objects.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "durod.h"

int
object_dir_of(const struct durod *d, const char *ns, const char *idhex,
    char *buf, size_t len)
{
	int n =
	    snprintf(buf, len, "%s/%s/%.2s/%s", d->data_dir, ns, idhex, idhex);

	return (n < 0 || (size_t)n >= len ? -1 : 0);
}

int
object_dir(const struct object *o, char *buf, size_t len)
{
	return (object_dir_of(o->d, o->ns->cfg->name, o->idhex, buf, len));
}

uint64_t
object_dir_bytes(const char *dir)
{
	static const char *const files[] = {
	    "db.sqlite", "db.sqlite-wal", "db.sqlite-shm"};
	char path[4200];
	struct stat st;
	uint64_t n = 0;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (stat(path, &st) == 0)
			n += (uint64_t)st.st_size;
	}
	return (n);
}

/* mkdir of the last component, making the parents on ENOENT. */
static int
mkdir_p(char *path, mode_t mode)
{
	char *slash;
	int rv;

	if (mkdir(path, mode) == 0 || errno == EEXIST)
		return (0);
	if (errno != ENOENT || (slash = strrchr(path, '/')) == NULL ||
	    slash == path)
		return (-1);
	*slash = '\0';
	rv = mkdir_p(path, mode);
	*slash = '/';
	if (rv != 0 || (mkdir(path, mode) != 0 && errno != EEXIST))
		return (-1);
	return (0);
}

/*
 * A worker whose policy drops to another user must own its directory and
 * what is in it (files a worker under an earlier policy left, say).
 * Only the object's own directory: the ones above it stay durod's, and
 * 0711 lets the worker pass through them without listing them.
 */
static int
dir_give(const char *path, uid_t uid, gid_t gid)
{
	struct dirent *e;
	DIR *dir;
	int fd, rv = 0;

	if (chown(path, uid, gid) != 0 || chmod(path, 0700) != 0 ||
	    (fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return (-1);
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return (-1);
	}
	while ((e = readdir(dir)) != NULL)
		if (e->d_name[0] != '.' && fchownat(dirfd(dir), e->d_name, uid,
		                               gid, AT_SYMLINK_NOFOLLOW) != 0)
			rv = -1;
	closedir(dir);
	return (rv);
}

int
object_dir_make(const struct object *o, char *err, size_t errlen)
{
	const struct namespace *ns = o->ns;
	char path[4096];

	/* Almost always there already: one mkdir answers EEXIST. */
	if (object_dir(o, path, sizeof(path)) != 0 ||
	    mkdir_p(path, ns->drop_ids ? 0711 : 0750) != 0 ||
	    (ns->drop_ids && dir_give(path, ns->uid, ns->gid) != 0)) {
		snprintf(err, errlen, "storage directory %.200s: %s", path,
		    strerror(errno));
		return (-1);
	}
	return (0);
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return (remove(path) != 0 && errno != ENOENT ? -1 : 0);
}

int
object_dir_remove(const struct object *o, char *err, size_t errlen)
{
	char path[4096];
	int fd, rv = 0;

	if (object_dir(o, path, sizeof(path)) != 0)
		return (-1);
	/*
	 * Take the worker's lock first: durod never removes a directory with
	 * a live worker, and the lock proves it rather than assumes it.
	 */
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return (errno == ENOENT ? 0 : -1);
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(err, errlen, "%.200s: still locked by a worker", path);
		close(fd);
		return (-1);
	}
	/* Depth first, not following symlinks out of the directory. */
	if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 &&
	    errno != ENOENT) {
		snprintf(
		    err, errlen, "removing %.200s: %s", path, strerror(errno));
		rv = -1;
	}
	close(fd);
	return (rv);
}

int
object_dir_exists(const struct object *o)
{
	char path[4096];
	struct stat st;

	return (object_dir(o, path, sizeof(path)) == 0 && stat(path, &st) == 0);
}
