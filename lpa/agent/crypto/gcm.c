/* gcm.c — to be written (see crypto.h). */
#include "crypto.h"
