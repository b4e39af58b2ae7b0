// shop-floor shell behaviour (scanner input submits on Enter)
