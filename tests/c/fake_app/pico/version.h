/* Fake pico/version.h for app/main.c on the host. */
#ifndef FAKE_VERSION_H
#define FAKE_VERSION_H
#define PICO_SDK_VERSION_STRING "host-fake"
#endif
