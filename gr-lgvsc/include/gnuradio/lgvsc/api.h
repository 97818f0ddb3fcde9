/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef INCLUDED_LGVSC_API_H
#define INCLUDED_LGVSC_API_H

#include <gnuradio/attributes.h>

#ifdef gnuradio_lgvsc_EXPORTS
#define LGVSC_API __GR_ATTR_EXPORT
#else
#define LGVSC_API __GR_ATTR_IMPORT
#endif

#endif /* INCLUDED_LGVSC_API_H */
