// SPDX-License-Identifier: MIT
// Checks that ... (being written)
#include "tests/support.h"
