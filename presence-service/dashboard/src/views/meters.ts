import { h } from '../dom.js';
import { createMeterTable, paramsFrom, searchFrom } from '../meter-table.js';
import { replaceParams } from '../router.js';
import type { ViewFactory } from '../view.js';

// The meter table page; its filters live in the address (`#/meters?state=restricted&sort=-changed`)
// so a view can be bookmarked and shared.

export const metersView: ViewFactory = (ctx, route) => {
  const table = createMeterTable({
    live: ctx.live,
    params: paramsFrom(route.params),
    onParamsChange: (params) => replaceParams('/meters', searchFrom(params)),
    alert: ctx.alert,
    idPrefix: 'meters',
  });
  ctx.main.append(h('h1', { tabindex: '-1' }, 'Meters'), table.element);
  return {
    update(next) {
      table.setParams(paramsFrom(next.params));
      return true;
    },
    destroy: () => table.destroy(),
  };
};
