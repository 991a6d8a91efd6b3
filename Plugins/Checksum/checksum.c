/*
 * checksum.c — a Wharf plugin written in C, against the plugin ABI alone (wharf_plugin.h): no Swift,
 * no Wharf library. Build it with `make` in this folder; test it with
 * `wharf plugins test libchecksum.so`; sign it with `wharf plugins sign --key KEY libchecksum.so`.
 *
 * Its code step, `checksum`, reads each artifact the step may read (the "artifacts" list of its
 * input), and answers their sizes and FNV-1a 64-bit hashes; it also stores them as checksums.txt.
 * Its preset, `checksum.files`, runs that step on the job's input file.
 */
#include "wharf_plugin.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char manifest[] =
    "{\"name\":\"checksum\",\"version\":\"1.0.0\","
    "\"description\":\"Sizes and FNV-1a hashes of a job's files (a plugin written in C).\","
    "\"presets\":[{\"name\":\"checksum.files\",\"description\":\"Sizes and hashes of the input file.\","
    "\"parameters\":\"{\\\"type\\\":\\\"object\\\",\\\"additionalProperties\\\":false}\","
    "\"steps\":[{\"id\":\"checksum\",\"kind\":\"code\",\"uses\":\"checksum\"}],"
    "\"examples\":[{\"parameters\":{},\"input\":\"image\"}]}],"
    "\"code_steps\":[{\"name\":\"checksum\",\"description\":\"Sizes and FNV-1a 64 hashes of the artifacts it may read.\","
    "\"examples\":["
    "{\"input\":{\"artifacts\":[]},\"output\":{\"files\":[],\"missing\":0}},"
    "{\"input\":{\"artifacts\":[\"gone.bin\"]},\"output\":{\"files\":[],\"missing\":1}}"
    "]}]}";

/* A growing text buffer; every function leaves it valid or marks it failed. */
struct text {
    char *data;
    size_t length, capacity;
    int failed;
};

static void append(struct text *text, const char *format, ...) {
    if (text->failed) return;
    for (;;) {
        va_list arguments;
        va_start(arguments, format);
        size_t room = text->capacity - text->length;
        int wrote = vsnprintf(text->data ? text->data + text->length : NULL, room, format, arguments);
        va_end(arguments);
        if (wrote < 0) { text->failed = 1; return; }
        if ((size_t)wrote < room) { text->length += (size_t)wrote; return; }
        size_t capacity = text->capacity * 2 + (size_t)wrote + 64;
        char *grown = realloc(text->data, capacity);
        if (!grown) { text->failed = 1; return; }
        text->data = grown;
        text->capacity = capacity;
    }
}

static unsigned long long fnv1a(const uint8_t *bytes, size_t length) {
    unsigned long long hash = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < length; i++) { hash ^= bytes[i]; hash *= 0x100000001b3ULL; }
    return hash;
}

static wharf_status fail(wharf_buffer *error, const char *message) {
    size_t length = strlen(message);
    error->data = malloc(length);
    if (error->data) { memcpy(error->data, message, length); error->length = length; }
    return WHARF_STATUS_INVALID_ARGUMENT;
}

static wharf_status run_step(const char *step, wharf_bytes input, const wharf_host_api_v1 *host,
                             wharf_buffer *output, wharf_buffer *error) {
    if (strcmp(step, "checksum") != 0) return WHARF_STATUS_NOT_FOUND;
    /* The input is JSON; artifact names are letters, digits, '.', '-' and '_', so a plain scan of
       the "artifacts" array is enough here. A real plugin would use a JSON library. */
    const char *json = (const char *)input.data;
    const char *end = json + input.length;
    const char *key = NULL;
    for (const char *at = json; at + 11 <= end; at++) {
        if (memcmp(at, "\"artifacts\"", 11) == 0) { key = at + 11; break; }
    }
    if (!key) return fail(error, "checksum needs the list of artifacts in its input");
    while (key < end && *key != '[') key++;
    if (key == end) return fail(error, "artifacts is not a list");

    struct text answer = {0}, listing = {0};
    int missing = 0, hashed = 0;
    append(&answer, "{\"files\":[");
    for (const char *at = key + 1; at < end && *at != ']'; at++) {
        if (*at != '"') continue;
        const char *close = memchr(at + 1, '"', (size_t)(end - at - 1));
        if (!close || close - at - 1 > 200) break;
        char name[256];
        memcpy(name, at + 1, (size_t)(close - at - 1));
        name[close - at - 1] = 0;
        at = close;
        wharf_buffer file = {0};
        if (host->read_artifact(host->context, name, &file) != WHARF_STATUS_OK) {
            missing++;
            continue;
        }
        unsigned long long hash = fnv1a(file.data, file.length);
        append(&answer, "%s{\"name\":\"%s\",\"bytes\":%zu,\"fnv1a64\":\"%016llx\"}", hashed == 0 ? "" : ",", name, file.length, hash);
        append(&listing, "%016llx  %zu  %s\n", hash, file.length, name);
        host->free_buffer(host->context, file);
        hashed++;
    }
    append(&answer, "],\"missing\":%d}", missing);
    if (answer.failed || listing.failed) {
        free(answer.data);
        free(listing.data);
        return fail(error, "out of memory");
    }
    if (listing.length > 0) {
        wharf_bytes bytes = {(const uint8_t *)listing.data, listing.length};
        host->write_artifact(host->context, "checksums.txt", "text/plain", bytes);
    }
    char line[64];
    snprintf(line, sizeof line, "hashed %d file(s), %d missing", hashed, missing);
    host->log(host->context, WHARF_LOG_INFO, line);
    free(listing.data);
    output->data = (uint8_t *)answer.data;
    output->length = answer.length;
    return WHARF_STATUS_OK;
}

static void free_buffer(wharf_buffer buffer) { free(buffer.data); }

static const wharf_plugin_v1 plugin = {
    WHARF_PLUGIN_ABI_VERSION, sizeof(wharf_plugin_v1), manifest, run_step, free_buffer,
};

const wharf_plugin_v1 *wharf_plugin_entry_v1(void) { return &plugin; }
