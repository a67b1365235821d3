/* A byte ring buffer with blocking reads, used by the serial logger. */

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    uint8_t *data;
    size_t capacity;
    size_t head;
    size_t tail;
    size_t count;
    bool closed;
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
} ringbuf_t;

int ringbuf_init(ringbuf_t *rb, size_t capacity)
{
    if (rb == NULL || capacity == 0) {
        return EINVAL;
    }
    rb->data = malloc(capacity);
    if (rb->data == NULL) {
        return ENOMEM;
    }
    rb->capacity = capacity;
    rb->head = 0;
    rb->tail = 0;
    rb->count = 0;
    rb->closed = false;
    pthread_mutex_init(&rb->lock, NULL);
    pthread_cond_init(&rb->not_empty, NULL);
    pthread_cond_init(&rb->not_full, NULL);
    return 0;
}

void ringbuf_destroy(ringbuf_t *rb)
{
    if (rb == NULL) {
        return;
    }
    pthread_mutex_destroy(&rb->lock);
    pthread_cond_destroy(&rb->not_empty);
    pthread_cond_destroy(&rb->not_full);
    free(rb->data);
    rb->data = NULL;
}

void ringbuf_close(ringbuf_t *rb)
{
    pthread_mutex_lock(&rb->lock);
    rb->closed = true;
    pthread_cond_broadcast(&rb->not_empty);
    pthread_cond_broadcast(&rb->not_full);
    pthread_mutex_unlock(&rb->lock);
}

static size_t copy_in(ringbuf_t *rb, const uint8_t *src, size_t len)
{
    size_t space = rb->capacity - rb->count;
    size_t n = len < space ? len : space;
    size_t first = rb->capacity - rb->tail;
    if (first > n) {
        first = n;
    }
    memcpy(rb->data + rb->tail, src, first);
    memcpy(rb->data, src + first, n - first);
    rb->tail = (rb->tail + n) % rb->capacity;
    rb->count += n;
    return n;
}

static size_t copy_out(ringbuf_t *rb, uint8_t *dst, size_t len)
{
    size_t n = len < rb->count ? len : rb->count;
    size_t first = rb->capacity - rb->head;
    if (first > n) {
        first = n;
    }
    memcpy(dst, rb->data + rb->head, first);
    memcpy(dst + first, rb->data, n - first);
    rb->head = (rb->head + n) % rb->capacity;
    rb->count -= n;
    return n;
}

ssize_t ringbuf_write(ringbuf_t *rb, const void *buf, size_t len)
{
    const uint8_t *src = buf;
    size_t written = 0;
    pthread_mutex_lock(&rb->lock);
    while (written < len) {
        while (rb->count == rb->capacity && !rb->closed) {
            pthread_cond_wait(&rb->not_full, &rb->lock);
        }
        if (rb->closed) {
            break;
        }
        written += copy_in(rb, src + written, len - written);
        pthread_cond_signal(&rb->not_empty);
    }
    pthread_mutex_unlock(&rb->lock);
    return written == 0 && len > 0 ? -1 : (ssize_t)written;
}

ssize_t ringbuf_read(ringbuf_t *rb, void *buf, size_t len, int timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec += 1;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&rb->lock);
    while (rb->count == 0 && !rb->closed) {
        int rc = pthread_cond_timedwait(&rb->not_empty, &rb->lock, &deadline);
        if (rc == ETIMEDOUT) {
            pthread_mutex_unlock(&rb->lock);
            return 0;
        }
    }
    size_t n = copy_out(rb, buf, len);
    pthread_cond_signal(&rb->not_full);
    pthread_mutex_unlock(&rb->lock);
    return n == 0 && rb->closed ? -1 : (ssize_t)n;
}

size_t ringbuf_count(ringbuf_t *rb)
{
    pthread_mutex_lock(&rb->lock);
    size_t n = rb->count;
    pthread_mutex_unlock(&rb->lock);
    return n;
}

static void *producer(void *arg)
{
    ringbuf_t *rb = arg;
    char line[64];
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(line, sizeof line, "sample %d\n", i);
        if (ringbuf_write(rb, line, (size_t)n) < 0) {
            break;
        }
    }
    ringbuf_close(rb);
    return NULL;
}

int main(void)
{
    ringbuf_t rb;
    if (ringbuf_init(&rb, 256) != 0) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    pthread_t thread;
    pthread_create(&thread, NULL, producer, &rb);
    uint8_t buf[128];
    size_t total = 0;
    for (;;) {
        ssize_t n = ringbuf_read(&rb, buf, sizeof buf, 500);
        if (n < 0) {
            break;
        }
        total += (size_t)n;
    }
    pthread_join(thread, NULL);
    ringbuf_destroy(&rb);
    printf("read %zu bytes\n", total);
    return 0;
}
