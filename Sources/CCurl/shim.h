#ifndef CCURL_SHIM_H
#define CCURL_SHIM_H
#include <curl/curl.h>
#include <string.h>

/*
 * Why these wrappers exist: curl_easy_setopt and curl_easy_getinfo are variadic, and Swift
 * does not import variadic C functions. Each wrapper takes exactly one argument type and
 * refuses an option of another type (CURLE_BAD_FUNCTION_ARGUMENT) instead of handing
 * libcurl a value it would read as the wrong type. The option-type ranges are curl.h's
 * CURLOPTTYPE_* and CURLINFO_* bases.
 */

typedef size_t (*ccurl_data_callback)(char *buffer, size_t size, size_t count, void *context);
typedef int (*ccurl_xferinfo_callback)(void *context, curl_off_t download_total,
                                       curl_off_t download_now, curl_off_t upload_total,
                                       curl_off_t upload_now);

static inline int ccurl_is_long_option(CURLoption option) {
    return option >= CURLOPTTYPE_LONG && option < CURLOPTTYPE_OBJECTPOINT;
}
static inline int ccurl_is_pointer_option(CURLoption option) {
    return option >= CURLOPTTYPE_OBJECTPOINT && option < CURLOPTTYPE_FUNCTIONPOINT;
}

/* CURL_GLOBAL_DEFAULT and CURLVERSION_NOW are macros Swift does not import. */
static inline CURLcode ccurl_global_init(void) { return curl_global_init(CURL_GLOBAL_DEFAULT); }
static inline curl_version_info_data *ccurl_version_info(void) { return curl_version_info(CURLVERSION_NOW); }

static inline CURLcode ccurl_setopt_long(CURL *handle, CURLoption option, long value) {
    if (!ccurl_is_long_option(option)) return CURLE_BAD_FUNCTION_ARGUMENT;
    return curl_easy_setopt(handle, option, value);
}

/* A C string; libcurl copies it (every string option since 7.17). */
static inline CURLcode ccurl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    if (!ccurl_is_pointer_option(option)) return CURLE_BAD_FUNCTION_ARGUMENT;
    return curl_easy_setopt(handle, option, value);
}

/* A pointer libcurl keeps without copying (POSTFIELDS, ERRORBUFFER, HTTPHEADER, CURLU,
 * callback data): the caller keeps it alive until the transfer ends. */
static inline CURLcode ccurl_setopt_pointer(CURL *handle, CURLoption option, const void *value) {
    if (!ccurl_is_pointer_option(option)) return CURLE_BAD_FUNCTION_ARGUMENT;
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    if (option < CURLOPTTYPE_OFF_T || option >= CURLOPTTYPE_BLOB) return CURLE_BAD_FUNCTION_ARGUMENT;
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_setopt_write_callback(CURL *handle, ccurl_data_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, callback);
}

static inline CURLcode ccurl_setopt_header_callback(CURL *handle, ccurl_data_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, callback);
}

static inline CURLcode ccurl_setopt_xferinfo_callback(CURL *handle, ccurl_xferinfo_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, callback);
}

static inline CURLcode ccurl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    if ((info & CURLINFO_TYPEMASK) != CURLINFO_LONG) return CURLE_BAD_FUNCTION_ARGUMENT;
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode ccurl_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value) {
    if ((info & CURLINFO_TYPEMASK) != CURLINFO_OFF_T) return CURLE_BAD_FUNCTION_ARGUMENT;
    return curl_easy_getinfo(handle, info, value);
}

/* Wipes memory that held request bytes. BrokerHTTP does not link libsodium (the client
 * libraries never link the crypto), and explicit_bzero is a store the compiler keeps. */
static inline void ccurl_wipe(void *buffer, size_t count) { explicit_bzero(buffer, count); }

/* Frees a header list after wiping each line (an Authorization header holds a token or
 * a client secret); curl_slist_free_all alone would free them as they are. */
static inline void ccurl_slist_wipe_free_all(struct curl_slist *list) {
    for (struct curl_slist *item = list; item != NULL; item = item->next) {
        if (item->data != NULL) explicit_bzero(item->data, strlen(item->data));
    }
    curl_slist_free_all(list);
}

#endif
