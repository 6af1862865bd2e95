/*
 * object.c — the table of objects durod currently knows in memory.
 *
 * An object is in the table from the first event that reaches it until it
 * is hibernated with nothing queued; hibernated objects cost nothing here.
 * The key is (namespace name, id), so one id in two namespaces is two
 * objects.
 */
#include <stdlib.h>
#include <string.h>

#include "durod.h"

static void
object_key(char key[64 + DURO_ID_BYTES], const struct namespace *ns,
    const uint8_t id[DURO_ID_BYTES])
{
	memset(key, 0, 64);
	strncpy(key, ns->cfg->name, 64); /* names are at most 64 bytes */
	memcpy(key + 64, id, DURO_ID_BYTES);
}

struct object *
object_byid(struct durod *d, const struct namespace *ns,
    const uint8_t id[DURO_ID_BYTES])
{
	char key[64 + DURO_ID_BYTES];
	struct object *o = NULL;

	object_key(key, ns, id);
	HASH_FIND(hh, d->objects, key, sizeof(key), o);
	return (o);
}

struct object *
object_new(struct durod *d, const struct namespace *ns,
    const uint8_t id[DURO_ID_BYTES], const char *name)
{
	struct object *o;

	if ((o = calloc(1, sizeof(*o))) == NULL)
		return (NULL);
	if (name != NULL && (o->name = strdup(name)) == NULL) {
		free(o);
		return (NULL);
	}
	o->d = d;
	o->ns = ns;
	nsgen_ref(ns->gen);
	o->state = OBJ_HIBERNATED;
	memcpy(o->id, id, DURO_ID_BYTES);
	objid_to_hex(id, o->idhex);
	object_key(o->key, ns, id);
	TAILQ_INIT(&o->queue);
	HASH_ADD(hh, d->objects, key, sizeof(o->key), o);
	d->nobjects++;
	return (o);
}

/* Only for hibernated objects: no worker, no timer, nothing queued. */
void
object_free(struct object *o)
{
	struct durod *d = o->d;

	alarm_unwait(o);
	HASH_DEL(d->objects, o);
	d->nobjects--;
	nsgen_unref(o->ns->gen);
	free(o->name);
	free(o);
}

void
object_set_ns(struct object *o, const struct namespace *ns)
{
	struct nsgen *old = o->ns->gen;

	nsgen_ref(ns->gen);
	o->ns = ns;
	nsgen_unref(old);
}

void
object_foreach(struct durod *d, void (*f)(struct object *))
{
	struct object *o, *tmp;

	HASH_ITER (hh, d->objects, o, tmp)
		f(o);
}
